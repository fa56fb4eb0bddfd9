package ai.lfm2moe;

/** Shape of a model (lfm2moe_model_info). */
public final class ModelInfo {
    public final String architecture;
    public final int nVocab, nEmbd, nBlock, nCtxTrain, nHead, nHeadKv, headDim, nFf;
    public final int nExpert, nExpertUsed, nFfExpert, nDenseBlock, convLCache, nAttentionBlock;
    public final float ropeFreqBase, rmsNormEps;
    public final long nParams, fileSize, nTensors;

    ModelInfo(String architecture, double[] v) {
        this.architecture = architecture;
        nVocab = (int) v[0];
        nEmbd = (int) v[1];
        nBlock = (int) v[2];
        nCtxTrain = (int) v[3];
        nHead = (int) v[4];
        nHeadKv = (int) v[5];
        headDim = (int) v[6];
        nFf = (int) v[7];
        nExpert = (int) v[8];
        nExpertUsed = (int) v[9];
        nFfExpert = (int) v[10];
        nDenseBlock = (int) v[11];
        convLCache = (int) v[12];
        nAttentionBlock = (int) v[13];
        ropeFreqBase = (float) v[14];
        rmsNormEps = (float) v[15];
        nParams = (long) v[16];
        fileSize = (long) v[17];
        nTensors = (long) v[18];
    }

    @Override
    public String toString() {
        return architecture + ": vocab " + nVocab + ", hidden " + nEmbd + ", " + nBlock
                + " blocks (" + nAttentionBlock + " attention), " + nExpert + " experts (top "
                + nExpertUsed + "), " + nParams + " parameters";
    }
}
